"""Helpers for start.sh (standard library only; talks to 127.0.0.1 only).

    livectl.py ports N                    N free TCP ports on 127.0.0.1
    livectl.py wait URL SECONDS           until URL answers (any HTTP status)
    livectl.py catalog KEYSTONE NOVA      compute service + endpoints, service user nova
    livectl.py wait-compute KEYSTONE NOVA SECONDS   until nova lists an up compute service
"""
import json
import socket
import sys
import time
import urllib.error
import urllib.request


def ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        socks.append(s)
    print(' '.join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def http(method, url, body=None, token=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header('Content-Type', 'application/json')
    if token:
        req.add_header('X-Auth-Token', token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, r.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, e.headers, json.loads(raw)
        except ValueError:
            return e.code, e.headers, raw.decode(errors='replace')


def wait(url, seconds):
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    sys.exit('%s did not answer within %s s' % (url, seconds))


def admin_token(keystone):
    status, headers, body = http('POST', keystone + '/v3/auth/tokens', {
        'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': 'admin', 'domain': {'id': 'default'},
                'password': 'secret'}}},
            'scope': {'project': {'name': 'admin', 'domain': {'id': 'default'}}},
        }})
    if status != 201:
        sys.exit('keystone token: %s %s' % (status, body))
    return headers['X-Subject-Token']


def ok(what, r):
    if r[0] >= 300:
        sys.exit('%s: %s %s' % (what, r[0], r[2]))
    return r[2]


def catalog(keystone, nova):
    tok = admin_token(keystone)
    svc = ok('service', http('POST', keystone + '/v3/services',
                             {'service': {'type': 'compute', 'name': 'nova'}}, tok))
    for iface in ('public', 'internal', 'admin'):
        ok('endpoint', http('POST', keystone + '/v3/endpoints', {'endpoint': {
            'service_id': svc['service']['id'], 'interface': iface,
            'region_id': 'RegionOne', 'url': nova + '/v2.1'}}, tok))
    proj = ok('project', http('POST', keystone + '/v3/projects', {'project': {
        'name': 'service', 'domain_id': 'default'}}, tok))
    user = ok('user', http('POST', keystone + '/v3/users', {'user': {
        'name': 'nova', 'password': 'secret', 'domain_id': 'default'}}, tok))
    roles = ok('roles', http('GET', keystone + '/v3/roles?name=admin', None, tok))
    ok('grant', http('PUT', '%s/v3/projects/%s/users/%s/roles/%s' % (
        keystone, proj['project']['id'], user['user']['id'],
        roles['roles'][0]['id']), None, tok))


def wait_compute(keystone, nova, seconds):
    tok = admin_token(keystone)
    end = time.time() + float(seconds)
    last = None
    while time.time() < end:
        last = http('GET', nova + '/v2.1/os-hypervisors/detail', None, tok,
                    {'OpenStack-API-Version': 'compute 2.88'})
        if last[0] == 200 and any(h.get('state') == 'up'
                                  for h in last[2].get('hypervisors', [])):
            return
        time.sleep(1)
    sys.exit('no compute host came up within %s s: %s' % (seconds, last))


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    {'ports': lambda: ports(int(args[0])),
     'wait': lambda: wait(*args),
     'catalog': lambda: catalog(*args),
     'wait-compute': lambda: wait_compute(*args)}[cmd]()
