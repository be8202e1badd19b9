from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.models import User
        from accounts.receivers import user_changed_forget, user_saved_ensure_customer_records

        post_save.connect(user_saved_ensure_customer_records, sender=User,
                          dispatch_uid="accounts.user_saved_ensure_customer_records")
        post_save.connect(user_changed_forget, sender=User, dispatch_uid="accounts.user_saved_forget")
        post_delete.connect(user_changed_forget, sender=User, dispatch_uid="accounts.user_deleted_forget")
