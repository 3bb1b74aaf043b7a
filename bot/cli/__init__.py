"""`python -m bot …`: the root group (root.py), one module per group of commands, and
main.py, which imports them all. No command module imports another or main.py."""
