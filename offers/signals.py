"""Events offers announces after commit. Receivers (notifications) subscribe from their
AppConfig.ready; offers never imports them."""
from django.dispatch import Signal

# One chunk of a flash promo start fan-out was written: kwargs promo_id, user_ids.
flash_promo_started = Signal()
