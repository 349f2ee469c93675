"""Operations: Prometheus metrics on the engine's own registry, a health check, and
structured (JSON) logs that carry each call's id."""
