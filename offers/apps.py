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
        from kernel.errors import failure_codes_register
        from offers.campaigns.errors import CampaignFailure
        from offers.codes.errors import CodeFailure
        from offers.errors import OfferFailure
        from offers.flash.errors import FlashFailure

        for failures in (OfferFailure, CampaignFailure, CodeFailure, FlashFailure):
            failure_codes_register(failures)
        from django.db.models.signals import post_delete, post_save

        from offers.models import Offer

        post_save.connect(_offer_changed, sender=Offer, dispatch_uid="offers.offer_quote_forget.save")
        post_delete.connect(_offer_changed, sender=Offer, dispatch_uid="offers.offer_quote_forget.delete")


def _offer_changed(sender, instance, **kwargs) -> None:
    """Forgets the quote now and again after commit: between the two, a concurrent request
    of this process may have read (and cached) the row as it was before the commit."""
    from django.db import transaction

    from offers.selectors import offer_quote_forget

    pk = instance.pk
    offer_quote_forget(pk)
    transaction.on_commit(lambda: offer_quote_forget(pk), robust=True)
