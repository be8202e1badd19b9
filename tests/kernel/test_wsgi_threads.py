"""kernel/wsgi_threads.py: a WSGI application behind the ASGI server on a pool of threads.
Driven as uvicorn drives it (receive/send), against small WSGI applications and Django's own."""
import asyncio
import contextvars
import threading

import pytest

from kernel.wsgi_threads import WsgiOnThreads

SCOPE = {"type": "http", "method": "POST", "path": "/echo/", "query_string": b"a=1", "http_version": "1.1",
         "root_path": "", "scheme": "https", "server": ("testserver", 443), "client": ("10.1.2.3", 5555),
         "headers": [(b"content-type", b"application/json"), (b"content-length", b"7"), (b"x-thing", b"1"),
                     (b"x-thing", b"2")]}


def _serve(app, scope=SCOPE, messages=({"type": "http.request", "body": b'{"a":', "more_body": True},
                                       {"type": "http.request", "body": b"1}"})):
    incoming, sent = list(messages), []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


class Closing(list):
    closed_on = None

    def close(self):
        self.closed_on = threading.current_thread().name


def test_a_whole_response_is_sent_at_once_with_the_request_as_wsgi_sees_it():
    seen = {}
    body = Closing([b"hello ", b"world"])

    def app(environ, start_response):
        seen.update(environ, body=environ["wsgi.input"].read(), thread=threading.current_thread().name)
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Out", "yes")])
        return body

    # when
    sent = _serve(WsgiOnThreads(app, threads=2))

    # then: one start and one body message
    assert sent == [{"type": "http.response.start", "status": 201,
                     "headers": [(b"content-type", b"text/plain"), (b"x-out", b"yes")]},
                    {"type": "http.response.body", "body": b"hello world"}]
    # the request, as PEP 3333 has it
    assert seen["body"] == b'{"a":1}' and seen["REQUEST_METHOD"] == "POST" and seen["PATH_INFO"] == "/echo/"
    assert (seen["QUERY_STRING"], seen["CONTENT_TYPE"], seen["CONTENT_LENGTH"]) == ("a=1", "application/json", "7")
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"], seen["SERVER_NAME"]) == ("10.1.2.3", "https", "testserver")
    assert seen["HTTP_X_THING"] == "1,2"
    # run and closed on a pool thread, not on the event loop's
    assert seen["thread"].startswith("wsgi") and body.closed_on == seen["thread"]


def test_a_streaming_response_goes_chunk_by_chunk_and_is_closed():
    class Stream(Closing):
        streaming = True

    body = Stream([b"a,b\n", b"", b"1,2\n"])

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])
        return body

    sent = _serve(WsgiOnThreads(app, threads=1))

    assert [m.get("body") for m in sent[1:]] == [b"a,b\n", b"1,2\n", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, False]
    assert body.closed_on.startswith("wsgi")


def test_a_client_gone_before_its_body_arrived_runs_nothing():
    calls = []
    sent = _serve(WsgiOnThreads(lambda environ, start_response: calls.append(1), threads=1),
                  messages=({"type": "http.disconnect"},))

    assert calls == [] and sent == []


def test_what_the_application_sets_in_its_context_stays_in_the_request():
    var = contextvars.ContextVar("var", default="unset")

    def app(environ, start_response):
        before = var.get()
        var.set(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [before.encode()]

    wsgi = WsgiOnThreads(app, threads=1)  # one thread: both requests run on it
    first, second = _serve(wsgi), _serve(wsgi, scope={**SCOPE, "path": "/other/"})

    assert first[1]["body"] == b"unset" and second[1]["body"] == b"unset"


def test_django_answers_through_it_and_finishes_the_request_on_the_thread_that_served_it():
    # Django's request_finished (which gives the request's database connection back) must run
    # on the thread that used the connection.
    from django.core.signals import request_finished
    from django.core.wsgi import get_wsgi_application

    finished_on = []

    def finished(**kwargs):
        finished_on.append(threading.current_thread().name)

    request_finished.connect(finished)
    scope = {**SCOPE, "method": "GET", "path": "/health/", "query_string": b"", "scheme": "http",
             "headers": [(b"host", b"testserver")]}
    try:
        sent = _serve(WsgiOnThreads(get_wsgi_application(), threads=1), scope=scope,
                      messages=({"type": "http.request", "body": b""},))
    finally:
        request_finished.disconnect(finished)

    assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"status": "ok"}'
    assert dict(sent[0]["headers"])[b"x-request-id"]
    assert len(finished_on) == 1 and finished_on[0].startswith("wsgi")
