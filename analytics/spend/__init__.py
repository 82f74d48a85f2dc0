"""LiteLLM's spend, from wherever LiteLLM keeps it, into offgate's store (one table, keyed by
LiteLLM's request_id): a CustomLogger inside LiteLLM, its REST API, its PostgreSQL database,
or an export file."""
