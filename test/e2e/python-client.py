# client/torque.py end to end against `npm run dev` and the test hook server (run by
# test/e2e/clients.test.ts): every method, with binary bodies and real signatures.
import base64
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'client'))
from torque import Torque, TorqueError, verify  # noqa: E402

torque = Torque(os.environ['TORQUE_URL'], api_key=None)
HOOK, SECRET = os.environ['HOOK_URL'], os.environ['SIGNING_SECRET']


def wait(what, probe, seconds=90, task_id=None):
    end = time.time() + seconds
    while time.time() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f'timed out waiting for {what}' + (f': {torque.get(task_id)} {torque.attempts(task_id)}' if task_id else ''))


def calls(key):
    return json.load(urllib.request.urlopen(f'{HOOK}/__log/{key}'))


def status_of(task_id):
    return torque.get(task_id)['status']


# Tasks: a binary body, passthrough headers, idempotency, a signed delivery.
body = bytes(range(256))
task = torque.enqueue(f'{HOOK}/h/py-bin/ok', body, content_type='application/octet-stream',
                      headers={'X-Tenant': 'acme'}, idempotency_key='py-1', max_retries=2)
assert task['max_retries'] == 2, task
assert torque.enqueue(f'{HOOK}/h/py-bin/ok', body, idempotency_key='py-1')['id'] == task['id']
wait('the binary task', lambda: status_of(task['id']) == 'completed', task_id=task['id'])
delivery = calls('py-bin')[0]
received = base64.b64decode(delivery['body'])
assert received == body and delivery['headers']['x-tenant'] == 'acme', delivery['headers']
assert verify(SECRET, delivery['headers'], received), 'a genuine delivery verifies'
assert not verify(SECRET, delivery['headers'], received[:-1] + b'!'), 'a tampered body does not'
assert torque.attempts(task['id'])[0]['status_code'] == 200

# Batch (bytes and text), listing, deletion, a refused id.
made = torque.batch([{'url': f'{HOOK}/h/py-batch/ok', 'body': b'\x00\xff'}, {'url': f'{HOOK}/h/py-batch/ok', 'body': 'text', 'delay': 3600}])
assert len(made) == 2
page = torque.list(limit=2)
assert len(page['tasks']) == 2 and page['next_cursor'], page
assert any(t['id'] == made[1]['id'] for t in torque.all(status='pending'))
torque.delete(made[1]['id'])
try:
    torque.get(made[1]['id'])
    raise AssertionError('a deleted task is gone')
except TorqueError as e:
    assert e.status == 404 and e.code == 'not_found', e
try:
    torque.get('../stats')
    raise AssertionError('a non-task id is refused')
except TorqueError as e:
    assert e.code == 'invalid_request', e

# A failure, replayed one by one and in bulk; a callback; a flow key.
failing = torque.enqueue(f'{HOOK}/h/py-fail/seq?codes=500,200', b'x', max_retries=0, flow_key='py-flow',
                         callback=f'{HOOK}/h/py-callback/ok')
wait('the task to fail', lambda: status_of(failing['id']) == 'failed')
assert torque.retry(failing['id'])['status'] in ('pending', 'retry')
wait('the replayed task to complete', lambda: status_of(failing['id']) == 'completed')
report = wait('the callback', lambda: calls('py-callback'))
assert json.loads(base64.b64decode(report[0]['body']))['type'] == 'task.completed'
dead = torque.enqueue(f'{HOOK}/h/py-dead/status?code=500', b'x', max_retries=0)
wait('the dead task to fail', lambda: status_of(dead['id']) == 'failed')
assert torque.retry_all('failed') >= 1

# Flows, topics, schedules, destinations, stats.
assert torque.flows.put('py-flow', rate=5, parallelism=2)['rate'] == 5
assert torque.flows.pause('py-flow')['paused'] is True
assert torque.flows.resume('py-flow')['paused'] is False
assert torque.flows.get('py-flow')['parallelism'] == 2
assert any(f['key'] == 'py-flow' for f in torque.flows.list()['flows'])
torque.flows.delete('py-flow')

torque.topics.put('py-topic', [f'{HOOK}/h/py-topic-a/ok', f'{HOOK}/h/py-topic-b/ok'])
published = torque.topics.publish('py-topic', json={'order': 7})
assert [t['url'] for t in published] == [f'{HOOK}/h/py-topic-a/ok', f'{HOOK}/h/py-topic-b/ok']
assert torque.topics.get('py-topic')['endpoints'][0].endswith('py-topic-a/ok')
assert [t['name'] for t in torque.topics.list()] == ['py-topic']
torque.topics.delete('py-topic')

schedule = torque.schedules.create('0 9 * * MON-FRI', f'{HOOK}/h/py-schedule/ok', timezone='Europe/Berlin', name='py', body=b'\x01')
assert torque.schedules.get(schedule['id'])['name'] == 'py'
assert torque.schedules.pause(schedule['id'])['paused'] is True
assert torque.schedules.resume(schedule['id'])['next_run_at']
assert any(s['id'] == schedule['id'] for s in torque.schedules.list()['schedules'])
torque.schedules.delete(schedule['id'])

assert isinstance(torque.destinations.list(), list)
stats = torque.stats()
assert stats['tasks']['completed'] >= 2 and 'circuits' in stats, stats
assert torque.delete_all('completed') >= 2
print(json.dumps({'ok': True}))
