"""The interception CA's trust: `offgate certs install|uninstall|status` (see README.md here).

trust.py runs and records what every store does; linux.py, macos.py and windows.py are the
stores; machine.py picks the ones this machine has.
"""

OFFGATE_ROOM = "certs"  # offgate.installation checks this is offgate's own package
