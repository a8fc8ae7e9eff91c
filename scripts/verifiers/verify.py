"""Checks signed webhook requests with the official Standard Webhooks library from PyPI.

Usage: verify.py CASES.json, where the file holds a list of
{"name", "secret", "headers": {...}, "body_b64", "expect": true|false}.
Prints one line per case and exits 1 if the library's verdict differs from `expect` for any.
"""
import base64
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

wrong = 0
cases = json.load(open(sys.argv[1]))
for case in cases:
    body = base64.b64decode(case["body_b64"])
    try:
        Webhook(case["secret"]).verify(body, case["headers"])
        accepted, why = True, "valid"
    except WebhookVerificationError as e:
        accepted, why = False, str(e)
    verdict = "ok" if accepted == case["expect"] else "WRONG"
    wrong += verdict == "WRONG"
    print(f"{verdict} {case['name']}: {'accepted' if accepted else 'rejected'} ({why})")
print(f"python standardwebhooks: {len(cases)} cases, {wrong} wrong")
sys.exit(1 if wrong else 0)
