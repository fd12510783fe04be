"""Bounce and complaint reports: read them (files, Maildir, mbox, IMAP, SMTP), parse them, and apply
them to subscribers. `parse` is pure; `apply` is the one place that changes the store."""
