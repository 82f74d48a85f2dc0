"""The module LiteLLM's config.yaml names to send its spend to offgate (docs/litellm.md):

    litellm_settings:
      callbacks: analytics.litellm_callback.offgate_spend_logger

or, with a copy of this file beside config.yaml, `callbacks: litellm_callback.offgate_spend_logger`.
"""

from analytics.spend.callback import OffgateSpendLogger

offgate_spend_logger = OffgateSpendLogger()
