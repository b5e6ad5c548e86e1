// Generates src/generated/openapi.ts from the committed openapi/openapi.json,
// so the client's types follow the server's document on every build.
//
// The document is read with JSON.parse rather than handed to the generator as
// a file: the generator's YAML reader rejects duplicate keys, and the server's
// document has one (POST /channels/{id}/events lists "201" twice, for the
// single event and the batch). JSON.parse keeps the last, as every JSON
// reader does; the client types the single-event answer by hand (see rest.ts).
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import openapiTS, { astToString } from 'openapi-typescript';

const source = new URL('../../../openapi/openapi.json', import.meta.url);
const target = new URL('../src/generated/openapi.ts', import.meta.url);

const document = JSON.parse(await readFile(source, 'utf8'));
const ast = await openapiTS(document, { silent: true });
await mkdir(new URL('.', target), { recursive: true });
await writeFile(
  target,
  '// Generated from openapi/openapi.json by scripts/generate.mjs: do not edit.\n' + astToString(ast),
);
