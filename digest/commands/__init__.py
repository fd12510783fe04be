"""One module per CLI verb; each parses options, calls one library function and prints."""
