"""The shared kernel every app builds on: errors, API and OpenAPI helpers, JSON, the Redis
client, throttles, the body limit, the database backend. It imports no app."""
