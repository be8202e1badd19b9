def settlers_register() -> None:
    """Registers the settlers of offers.codes with the engine (called from OffersConfig.ready)."""
