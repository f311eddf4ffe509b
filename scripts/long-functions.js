// Functions longer than LIMIT lines in src/, worker/ and cli/ (issue 9's habit: small
// functions). A longer one needs its reason in a comment right above it that starts with
// "Long:". Run directly to list them; test/architecture.test.ts runs it in `npm test`.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const LIMIT = 60;

/** Every function-like body over LIMIT lines without a "Long:" reason above it. */
export function longFunctions(root) {
  const files = execFileSync("git", ["ls-files", "src", "worker", "cli"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter((f) => f.endsWith(".ts"));
  const found = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        const first = sf.getLineAndCharacterOfPosition(node.getStart()).line;
        const lines = sf.getLineAndCharacterOfPosition(node.end).line - first + 1;
        const comments = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
        const reasoned = comments.some((c) => /^\s*(\/\/|\/\*+|\*)\s*Long:/m.test(text.slice(c.pos, c.end)));
        if (lines > LIMIT && !reasoned) found.push(`${file}:${first + 1} ${node.name?.getText(sf) ?? "(anonymous)"}: ${lines} lines`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const found = longFunctions(path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."));
  console.log(found.length ? found.join("\n") : `no function over ${LIMIT} lines without a reason`);
  process.exitCode = found.length ? 1 : 0;
}
