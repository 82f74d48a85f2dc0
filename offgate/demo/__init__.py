"""The demo's stand-ins for the outside world (a provider, a LiteLLM gateway) and how they are served."""
