"""The browser's native-messaging host: what the extension copies from AI web apps,
read with the shared catalog and written to the store as UsageEvents (source "extension").

The browser starts it through the launcher `offgate extension install` writes; it must
answer fast, so this package imports nothing heavy until it has replied once.
"""

OFFGATE_ROOM = "native_host"  # offgate.installation checks this is offgate's own package
