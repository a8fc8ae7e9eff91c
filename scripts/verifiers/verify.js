// Checks signed webhook requests with the official Standard Webhooks library from npm.
//
// Usage: node verify.js CASES.json, where the file holds a list of
// {"name", "secret", "headers": {...}, "body_b64", "expect": true|false}.
// Prints one line per case and exits 1 if the library's verdict differs from `expect` for any.
"use strict";
const fs = require("fs");
const { Webhook } = require("standardwebhooks");

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let wrong = 0;
for (const c of cases) {
  const body = Buffer.from(c.body_b64, "base64");
  let accepted = true;
  let why = "valid";
  try {
    new Webhook(c.secret).verify(body, c.headers);
  } catch (e) {
    accepted = false;
    why = e.message;
  }
  const verdict = accepted === c.expect ? "ok" : "WRONG";
  if (verdict === "WRONG") wrong += 1;
  console.log(`${verdict} ${c.name}: ${accepted ? "accepted" : "rejected"} (${why})`);
}
console.log(`npm standardwebhooks: ${cases.length} cases, ${wrong} wrong`);
process.exit(wrong ? 1 : 0);
