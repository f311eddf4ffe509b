#!/usr/bin/env node
// The public surface of fanout, written to docs/api.md: every name exported by "fanout"
// (src/index.ts) and "fanout/job" (src/job/index.ts), with its kind and its declaration as a
// user's editor sees it (the compiler's own .d.ts output, comments left out). A light stand-in
// for api-extractor: test/architecture.test.ts regenerates the report in memory and fails when
// it differs from the checked-in file, so the API changes only on purpose.
//
//   node scripts/api-report.js          write docs/api.md
//   node scripts/api-report.js --check  exit 1 if docs/api.md is stale or a name lacks TSDoc
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPORT_FILE = "docs/api.md";

/** The package's entry points: import specifier and source file. */
const ENTRIES = [
  { specifier: "fanout", file: "src/index.ts" },
  { specifier: "fanout/job", file: "src/job/index.ts" },
];

const KINDS = new Map([
  [ts.SyntaxKind.FunctionDeclaration, "function"],
  [ts.SyntaxKind.ClassDeclaration, "class"],
  [ts.SyntaxKind.InterfaceDeclaration, "interface"],
  [ts.SyntaxKind.TypeAliasDeclaration, "type"],
  [ts.SyntaxKind.EnumDeclaration, "enum"],
  [ts.SyntaxKind.VariableDeclaration, "const"],
  [ts.SyntaxKind.ModuleDeclaration, "namespace"],
]);

function loadProgram(root) {
  const configFile = path.join(root, "tsconfig.json");
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } });
  if (!parsed) throw new Error(`cannot read ${configFile}`);
  const options = { ...parsed.options, noEmit: false, declaration: true, emitDeclarationOnly: true, declarationMap: false, sourceMap: false };
  return ts.createProgram(ENTRIES.map((e) => path.join(root, e.file)), options);
}

/** The compiler's declaration output for every source file, keyed by that source's path. */
function emitDeclarations(program, root) {
  const { outDir = root, rootDir = root } = program.getCompilerOptions();
  const dts = new Map();
  const result = program.emit(undefined, (fileName, text) => {
    if (!fileName.endsWith(".d.ts")) return;
    const source = path.join(rootDir, path.relative(outDir, fileName)).replace(/\.d\.ts$/, ".ts");
    dts.set(path.normalize(source), ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true));
  }, undefined, true);
  const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" }));
  return dts;
}

/** The statements of a .d.ts that declare `name` (several for overloads or merged declarations). */
function statementsNamed(sourceFile, name) {
  return sourceFile.statements.filter((s) => {
    if (ts.isVariableStatement(s)) return s.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name);
    return "name" in s && s.name && ts.isIdentifier(s.name) && s.name.text === name;
  });
}

const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

function signatureOf(dtsFile, name, exportedAs) {
  const text = statementsNamed(dtsFile, name)
    .map((s) => printer.printNode(ts.EmitHint.Unspecified, s, dtsFile))
    .map((s) => s.replace(/^export /, "").replace(/^declare /, ""))
    .join("\n");
  // `export { a as b }`: show the declaration under the name users import.
  return exportedAs === name ? text : text.replace(new RegExp(`\\b${name}\\b`), exportedAs);
}

/**
 * Every exported name of each entry: { entry, name, kind, signature, documented, file }.
 * @param {string} [root] the package folder
 */
export function collectApi(root = ROOT) {
  const program = loadProgram(root);
  const checker = program.getTypeChecker();
  const dts = emitDeclarations(program, root);
  const out = [];
  for (const entry of ENTRIES) {
    const sourceFile = program.getSourceFile(path.join(root, entry.file));
    const moduleSymbol = sourceFile && checker.getSymbolAtLocation(sourceFile);
    if (!moduleSymbol) throw new Error(`${entry.file} is not a module`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decl = symbol.declarations?.[0];
      if (!decl) throw new Error(`${entry.file}: cannot find the declaration of ${exported.name}`);
      const file = path.normalize(decl.getSourceFile().fileName);
      const dtsFile = dts.get(file);
      if (!dtsFile) throw new Error(`no declaration output for ${path.relative(root, file)}`);
      out.push({
        entry: entry.specifier,
        name: exported.name,
        kind: KINDS.get(decl.kind) ?? ts.SyntaxKind[decl.kind],
        signature: signatureOf(dtsFile, symbol.name, exported.name),
        documented: ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() !== "",
        file: path.relative(root, file).split(path.sep).join("/"),
      });
    }
  }
  return out.sort((a, b) => ENTRIES.findIndex((e) => e.specifier === a.entry) - ENTRIES.findIndex((e) => e.specifier === b.entry) || a.name.localeCompare(b.name));
}

/** docs/api.md's text for these names. */
export function renderApi(api) {
  const lines = [
    "# fanout's public API",
    "",
    "Generated by `node scripts/api-report.js` from the package's entry points; do not edit by hand.",
    "test/architecture.test.ts fails when this file and the code disagree: when the change to the API is",
    "meant, run the script and commit the new file with the change.",
  ];
  for (const entry of ENTRIES) {
    lines.push("", `## \`${entry.specifier}\` (${entry.file})`);
    for (const item of api.filter((a) => a.entry === entry.specifier)) {
      lines.push("", `### ${item.name} (${item.kind})`, "", "```ts", item.signature, "```");
    }
  }
  return lines.join("\n") + "\n";
}

/** Whether docs/api.md matches the code, and the exported names without a TSDoc comment. */
export function checkApi(root = ROOT) {
  const api = collectApi(root);
  const expected = renderApi(api);
  const file = path.join(root, REPORT_FILE);
  const actual = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  return { expected, actual, undocumented: api.filter((a) => !a.documented).map((a) => `${a.entry}: ${a.name} (${a.kind}, ${a.file})`) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { expected, actual, undocumented } = checkApi();
  if (undocumented.length) process.stderr.write(`exported names without a TSDoc comment:\n  ${undocumented.join("\n  ")}\n`);
  if (process.argv.includes("--check")) {
    if (expected !== actual) process.stderr.write(`${REPORT_FILE} is out of date: run \`node scripts/api-report.js\`\n`);
    process.exitCode = expected !== actual || undocumented.length ? 1 : 0;
  } else {
    fs.mkdirSync(path.join(ROOT, path.dirname(REPORT_FILE)), { recursive: true });
    fs.writeFileSync(path.join(ROOT, REPORT_FILE), expected);
    process.stderr.write(`wrote ${REPORT_FILE}\n`);
  }
}
