"""`python -m bot …`: the root group (root.py), which imports one module per group of commands
(the others here) when one of its commands is first used. No command module imports another."""
