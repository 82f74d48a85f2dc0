"""The module LiteLLM's config.yaml names to load offgate's pre-call hook (docs/governance.md):

    litellm_settings:
      callbacks: governance.litellm_hook.offgate_governance

Both callbacks may be listed: `[analytics.litellm_callback.offgate_spend_logger,
governance.litellm_hook.offgate_governance]`.
"""

from governance.hook import GovernanceHook

offgate_governance = GovernanceHook()
