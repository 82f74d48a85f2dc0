"""The mitmproxy addon: flow -> catalog parser -> journal -> store (`offgate proxy`, or
`mitmdump -s interceptor/addon.py`)."""

OFFGATE_ROOM = "interceptor"  # offgate.installation checks this is offgate's own package
