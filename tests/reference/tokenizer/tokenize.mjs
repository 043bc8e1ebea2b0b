// Prints reference token ids from Hugging Face's pure-JS tokenizers
// (@huggingface/tokenizers), for trainer/tokenizer's reference test.
//
//   node tokenize.mjs <tokenizer.json> <texts.jsonl>
//
// texts.jsonl: one JSON object per line with a "text" field. Output: one JSON
// line per text: {"ids": [...], "normalized": "..."} where ids are encoded
// without BOS/EOS and normalized is the text after the tokenizer's normaliser
// (what a decode of the ids should give back).
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [tokenizerPath, textsPath] = process.argv.slice(2);
if (!tokenizerPath || !textsPath) {
  console.error("usage: node tokenize.mjs <tokenizer.json> <texts.jsonl>");
  process.exit(2);
}
const configPath = path.join(path.dirname(tokenizerPath), "tokenizer_config.json");
const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, "utf8")) : {};
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), config);

const lines = fs.readFileSync(textsPath, "utf8").split("\n").filter((l) => l.trim() !== "");
const out = [];
for (const line of lines) {
  const { text } = JSON.parse(line);
  const { ids } = tokenizer.encode(text, { add_special_tokens: false });
  const normalized = tokenizer.normalizer ? tokenizer.normalizer.normalize(text) : text;
  out.push(JSON.stringify({ ids, normalized }));
}
process.stdout.write(out.join("\n") + "\n");
