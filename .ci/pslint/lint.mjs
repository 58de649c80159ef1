// lint.mjs: parse each PowerShell file given with tree-sitter-powershell and report
// every ERROR or MISSING node as file:line:column; exit 1 if any file has one.
import { Parser, Language } from 'web-tree-sitter';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
await Parser.init();
const wasm = require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
const lang = await Language.load(wasm);
const p = new Parser(); p.setLanguage(lang);
let bad = 0;
for (const f of process.argv.slice(2)) {
  const tree = p.parse(readFileSync(f, 'utf8'));
  const errs = [];
  const walk = (n) => { if (n.isError || n.isMissing) errs.push(n); if (n.hasError || n.isMissing) for (const c of n.children) walk(c); };
  walk(tree.rootNode);
  for (const e of errs) console.log(`${f}:${e.startPosition.row+1}:${e.startPosition.column+1}: ${e.isMissing ? 'MISSING ' + e.type : 'ERROR'}`);
  if (errs.length) bad++;
}
console.log(`pslint: ${process.argv.length-2} files, ${bad} with errors`);
process.exit(bad ? 1 : 0);
