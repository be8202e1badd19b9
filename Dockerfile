FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files (admin, Swagger/ReDoc) are part of the image: WhiteNoise serves them from
# STATIC_ROOT (/app/.run/static). Collecting needs no database, Redis or secret.
RUN DJANGO_SETTINGS_MODULE=config.settings.local python manage.py collectstatic --noinput -v 0
# The processes run as an unprivileged user that cannot change the code or the static files.
RUN useradd --system --uid 10001 --user-group --home-dir /home/app --create-home --shell /usr/sbin/nologin app
USER app
EXPOSE 8000
CMD ["gunicorn", "config.asgi:application", "-c", "config/gunicorn.conf.py"]
