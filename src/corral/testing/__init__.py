"""Test doubles shipped for users: real servers speaking each provider wire protocol over loopback HTTP."""
