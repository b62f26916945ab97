"""Torque client for Python: one module, standard library only (Python 3.8+).

    from torque import Torque, TorqueError, verify

    torque = Torque('http://localhost:8787', api_key=None)
    task = torque.enqueue('https://example.com/hooks/welcome', b'user=1234')
    print(torque.get(task['id'])['status'])

Answers are the API's JSON as dicts (see docs/api.md). An error answer raises TorqueError with the
HTTP status, the API's error code and message, and Retry-After when given. `verify()` checks a
delivery's Standard Webhooks signature on the raw body bytes, as Torque signs them.
"""
import base64
import hashlib
import hmac
import json as _json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ['Torque', 'TorqueError', 'verify']

# How Torque spells a task id (src/ids.ts): anything else is refused before it is sent.
_TASK_ID = re.compile(r'^[0-9A-HJKMNP-TV-Z]{26}$')


class TorqueError(Exception):
    """An error answer: `status` (HTTP), `code` and `message` (the API's), `retry_after` (seconds or None)."""

    def __init__(self, status, code, message, retry_after=None):
        super().__init__(f'{status} {code}: {message}')
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def _seg(value):
    return urllib.parse.quote(str(value), safe='')


def _bytes(body):
    return body.encode() if isinstance(body, str) else body


class Torque:
    """A Torque deployment: `url` (e.g. https://torque.<you>.workers.dev) and an API key (None when auth is off)."""

    def __init__(self, url='http://localhost:8787', api_key=None, timeout=30):
        self.url = url.rstrip('/')
        self.api_key = api_key
        self.timeout = timeout
        self.flows = _Flows(self)
        self.topics = _Topics(self)
        self.schedules = _Schedules(self)
        self.destinations = _Destinations(self)

    # The one way a request is made.
    def _call(self, method, path, params=None, body=None, headers=None, json=None):
        query = urllib.parse.urlencode({k: ('true' if v is True else v) for k, v in (params or {}).items() if v is not None})
        headers = dict(headers or {})
        if json is not None:
            body, headers['Content-Type'] = _json.dumps(json).encode(), 'application/json'
        if self.api_key:
            headers['Authorization'] = f'Bearer {self.api_key}'
        request = urllib.request.Request(f"{self.url}{path}{'?' + query if query else ''}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
                return _json.loads(data) if data and response.status != 204 else None
        except urllib.error.HTTPError as e:
            try:
                error = _json.loads(e.read()).get('error', {})
            except ValueError:
                error = {}
            retry_after = e.headers.get('Retry-After')
            raise TorqueError(e.code, error.get('code', 'error'), error.get('message', e.reason),
                              int(retry_after) if retry_after and retry_after.isdigit() else None) from None

    def _task(self, task_id, rest=''):
        if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
            raise TorqueError(400, 'invalid_request', f'id: {task_id!r} is not a task id')
        return f'/tasks/{task_id}{rest}'

    @staticmethod
    def _task_request(content_type, headers, idempotency_key, options):
        """A task's options as query parameters, and its headers (passthrough ones prefixed)."""
        sent = {('Content-Type' if k.lower() == 'content-type' else f'Torque-Passthrough-{k}'): v for k, v in (headers or {}).items()}
        if content_type:
            sent['Content-Type'] = content_type
        if idempotency_key:
            sent['Idempotency-Key'] = idempotency_key
        return options, sent

    def enqueue(self, url, body=b'', *, content_type=None, headers=None, idempotency_key=None, json=None, **options):
        """Enqueues one task calling `url` with `body` (bytes or str; `json=` sends JSON).

        options: method, timeout, delay, max_retries, flow_key, callback, failure_callback.
        `headers` are passed through to the hook; Content-Type sets the body's type.
        """
        params, sent = self._task_request(content_type, headers, idempotency_key, options)
        if json is not None:
            body, sent['Content-Type'] = _json.dumps(json).encode(), 'application/json'
        return self._call('POST', '/', params={'url': url, **params}, body=_bytes(body) or b'', headers=sent)

    def batch(self, items):
        """Enqueues 1..100 tasks at once, all or nothing: dicts like {'url': ..., 'body': b'...', 'delay': 60}."""
        payload = [{**{k: v for k, v in item.items() if k != 'body'},
                    **({'body_base64': base64.b64encode(item['body']).decode()} if isinstance(item.get('body'), bytes)
                       else {'body': item['body']} if 'body' in item else {})} for item in items]
        return self._call('POST', '/batch', json=payload)['tasks']

    def get(self, task_id, include_body=False):
        """The task; with include_body, also its stored body (body_base64, and body as text when UTF-8) and headers."""
        return self._call('GET', self._task(task_id), params={'include': 'body'} if include_body else None)

    def attempts(self, task_id):
        return self._call('GET', self._task(task_id, '/attempts'))['attempts']

    def list(self, status=None, limit=None, cursor=None, schedule_id=None):
        """One page, newest first: {'tasks': [...], 'next_cursor': ...}; follow next_cursor until it is None."""
        return self._call('GET', '/tasks', params={'status': status, 'limit': limit, 'cursor': cursor, 'schedule_id': schedule_id})

    def all(self, status=None, schedule_id=None):
        """Every task (of a status or schedule, if given), newest first, page by page."""
        cursor = None
        while True:
            page = self.list(status=status, limit=100, cursor=cursor, schedule_id=schedule_id)
            yield from page['tasks']
            cursor = page['next_cursor']
            if cursor is None:
                return

    def delete(self, task_id):
        self._call('DELETE', self._task(task_id))

    def delete_all(self, status=None):
        """Deletes every task of `status`, or every task at all (?all=true), call after call; returns how many."""
        return self._follow('DELETE', '/', {'status': status} if status else {'all': True}, 'deleted')

    def retry(self, task_id):
        return self._call('POST', self._task(task_id, '/retry'))

    def retry_all(self, status='failed'):
        """Replays every task of `status`, call after call; returns how many."""
        return self._follow('POST', '/tasks/retry', {'status': status}, 'retried')

    def _follow(self, method, path, params, field):
        total, cursor = 0, None
        while True:
            page = self._call(method, path, params={**params, 'cursor': cursor})
            total += page[field]
            cursor = page['next_cursor']
            if cursor is None:
                return total

    def stats(self):
        return self._call('GET', '/stats')


class _Flows:
    """Rate, parallelism and pause per flow key: torque.flows.put('customer-42', rate=5, parallelism=2)."""

    def __init__(self, torque):
        self._t = torque

    def put(self, key, rate=None, period=None, parallelism=None, retry_backoff=None, retry_min_delay=None, retry_max_delay=None):
        limits = {k: v for k, v in {'rate': rate, 'period': period, 'parallelism': parallelism, 'retry_backoff': retry_backoff,
                                    'retry_min_delay': retry_min_delay, 'retry_max_delay': retry_max_delay}.items() if v is not None}
        return self._t._call('PUT', f'/flows/{_seg(key)}', json=limits)

    def get(self, key):
        return self._t._call('GET', f'/flows/{_seg(key)}')

    def list(self, after=None):
        return self._t._call('GET', '/flows', params={'after': after})

    def delete(self, key):
        self._t._call('DELETE', f'/flows/{_seg(key)}')

    def pause(self, key):
        return self._t._call('POST', f'/flows/{_seg(key)}/pause')

    def resume(self, key):
        return self._t._call('POST', f'/flows/{_seg(key)}/resume')


class _Topics:
    """Fan-out: torque.topics.publish('order-created', b'...') makes one task per endpoint."""

    def __init__(self, torque):
        self._t = torque

    def put(self, name, endpoints):
        return self._t._call('PUT', f'/topics/{_seg(name)}', json={'endpoints': list(endpoints)})

    def get(self, name):
        return self._t._call('GET', f'/topics/{_seg(name)}')

    def list(self):
        return self._t._call('GET', '/topics')['topics']

    def delete(self, name):
        self._t._call('DELETE', f'/topics/{_seg(name)}')

    def publish(self, name, body=b'', *, content_type=None, headers=None, idempotency_key=None, json=None, **options):
        params, sent = self._t._task_request(content_type, headers, idempotency_key, options)
        if json is not None:
            body, sent['Content-Type'] = _json.dumps(json).encode(), 'application/json'
        return self._t._call('POST', f'/topics/{_seg(name)}', params=params, body=_bytes(body) or b'', headers=sent)['tasks']


class _Schedules:
    """Recurring tasks: torque.schedules.create(cron='0 9 * * MON-FRI', url=..., timezone='Europe/Berlin')."""

    def __init__(self, torque):
        self._t = torque

    def create(self, cron, url, **fields):
        """fields: timezone, name, method, headers, body (str or bytes), timeout, max_retries, flow_key."""
        if isinstance(fields.get('body'), bytes):
            fields['body_base64'] = base64.b64encode(fields.pop('body')).decode()
        return self._t._call('POST', '/schedules', json={'cron': cron, 'url': url, **fields})

    def get(self, schedule_id):
        return self._t._call('GET', f'/schedules/{_seg(schedule_id)}')

    def update(self, schedule_id, **fields):
        """Changes what is given: cron, timezone, name, url, method, headers, body (str or bytes), timeout,
        max_retries, flow_key (None clears name, flow_key and body); the rest stays."""
        if isinstance(fields.get('body'), bytes):
            fields['body_base64'] = base64.b64encode(fields.pop('body')).decode()
        return self._t._call('PATCH', f'/schedules/{_seg(schedule_id)}', json=fields)

    def list(self, cursor=None):
        return self._t._call('GET', '/schedules', params={'cursor': cursor})

    def delete(self, schedule_id):
        self._t._call('DELETE', f'/schedules/{_seg(schedule_id)}')

    def pause(self, schedule_id):
        return self._t._call('POST', f'/schedules/{_seg(schedule_id)}/pause')

    def resume(self, schedule_id):
        return self._t._call('POST', f'/schedules/{_seg(schedule_id)}/resume')


class _Destinations:
    """Circuit breakers of destinations that failed lately."""

    def __init__(self, torque):
        self._t = torque

    def list(self):
        return self._t._call('GET', '/destinations')['destinations']

    def reset(self, destination):
        self._t._call('POST', f'/destinations/{_seg(destination)}/reset')


def verify(secret, headers, body, tolerance=300, now=None):
    """True when `body` (the raw bytes received, before any decoding) carries a valid Torque signature.

    `secret` is SIGNING_SECRET (whsec_...); `headers` any mapping of the request's headers (names in
    any case). Deliveries older or newer than `tolerance` seconds are refused (replays).
    """
    h = {str(k).lower(): v for k, v in dict(headers).items()}
    msg_id, ts, signatures = h.get('webhook-id'), h.get('webhook-timestamp'), h.get('webhook-signature')
    if not (msg_id and ts and signatures) or not ts.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(ts)) > tolerance:
        return False
    key = base64.b64decode(secret[len('whsec_'):] if secret.startswith('whsec_') else secret)
    expected = base64.b64encode(hmac.new(key, f'{msg_id}.{ts}.'.encode() + _bytes(body), hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s.split(',', 1)[1]) for s in signatures.split() if s.startswith('v1,'))
