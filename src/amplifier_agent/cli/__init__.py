"""The command-line face: click commands; the only package that writes stdout."""
