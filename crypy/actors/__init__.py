"""The actors (Desk, Holder, Trader) and the runtime they share: bus, supervisor, registry, templates."""
