def settlers_register() -> None:
    """Registers the settlers of offers.flash with the engine (called from OffersConfig.ready)."""
