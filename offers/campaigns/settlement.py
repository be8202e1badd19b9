def settlers_register() -> None:
    """Registers the settlers of offers.campaigns with the engine (called from OffersConfig.ready)."""
