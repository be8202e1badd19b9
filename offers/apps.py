from django.apps import AppConfig


class OffersConfig(AppConfig):
    name = "offers"

    def ready(self) -> None:
        from offers import settlement
        from offers.campaigns import settlement as campaign_settlement
        from offers.codes import settlement as code_settlement
        from offers.flash import settlement as flash_settlement

        settlement.settlers_register()
        campaign_settlement.settlers_register()
        code_settlement.settlers_register()
        flash_settlement.settlers_register()
