"""`digest dkim keygen`: a new signing key and the DNS record that publishes it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from digest.commands.common import settings


@click.group()
def dkim() -> None:
    """DKIM signing keys.

    digest dkim keygen --selector digest2024 --out dkim.pem
    """


@dkim.command()
@click.option("--selector", required=True, help="The selector (s=) the DNS record is published under.")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PEM file to write."
)
@click.option("--domain", help="Signing domain (default: DIGEST_DKIM_DOMAIN, else the From address's).")
def keygen(selector: str, out: Path, domain: str | None) -> None:
    """Write a new RSA-2048 private key (PEM, mode 0600) and print the DNS TXT record to publish.

    Then set DIGEST_DKIM_PRIVATE_KEY=FILE and DIGEST_DKIM_SELECTOR=SELECTOR.

    digest dkim keygen --selector digest2024 --out /etc/digest/dkim.pem
    """
    from digest.config_values import dns_label
    from digest.dkim import dns_name, dns_value, generate_key, private_pem
    from digest.errors import DigestError
    from digest.mail import sender_domain

    try:
        selector = dns_label("selector")(selector) or ""
        domain = dns_label("domain")(domain or "") or settings().dkim_domain or sender_domain(settings())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    key = generate_key()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DigestError(f"{out} exists: not overwriting a key (choose another --out)") from None
    except OSError as exc:
        raise DigestError(f"cannot write {out}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(key))
    value = dns_value(key)
    quoted = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
    click.echo(f"wrote {out}", err=True)
    click.echo(f"{dns_name(selector, domain)}. IN TXT {quoted}")
