#!/usr/bin/env python3
"""transformers/PEFT as the reference for tunefleet's model (CPU, fp32).

Run by the virtualenv's Python from the C++ equality tests
(tests/reference/model/model_equality_test.cc); any Hugging Face model
directory works, not only the tiny ones made here.

  make-models OUT             tiny random llama, qwen2, qwen3, mistral dirs
  logits MODEL OUT            inputs (padding both sides, packed rows) and logits
  step MODEL OUT --mode M     two AdamW steps (full or lora): every
                              loss, gradient, norm and updated weight
  all OUT                     make-models into OUT/models, then logits and
                              both steps of each into OUT/reference/<name>/
  generate MODEL PROMPTS OUT  greedy replies as `tunefleet-trainer evaluate`
                              makes them (raw prompt, decoded text)
  exports JOBS.json           per job: greedy tokens of an exported full
                              model, logits of an exported PEFT adapter

Everything goes into OUT as reference.safetensors (tensors) and
reference.json (scalars and settings), for the C++ side to read.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

PAD = 0
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# ---------------------------------------------------------------- models

def tiny_configs():
    from transformers import LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config
    common = dict(vocab_size=96, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                  rms_norm_eps=1e-5, initializer_range=0.1, bos_token_id=1, eos_token_id=2,
                  pad_token_id=PAD)
    return {
        # SmolLM2's shape of config: tied, GQA.
        "llama": LlamaConfig(**common, tie_word_embeddings=True,
                             rope_parameters={"rope_type": "default", "rope_theta": 100000.0}),
        # Llama 3's rope scaling, an untied head, bias on q/k/v/o, head_dim != hidden/heads.
        "llama3_bias": LlamaConfig(**{**common, "num_key_value_heads": 1}, head_dim=24,
                                   tie_word_embeddings=False, attention_bias=True,
                                   rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                                    "factor": 8.0, "low_freq_factor": 1.0,
                                                    "high_freq_factor": 4.0,
                                                    "original_max_position_embeddings": 16}),
        "qwen2": Qwen2Config(**common, tie_word_embeddings=True,
                             rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
        "qwen3": Qwen3Config(**common, head_dim=32, tie_word_embeddings=False,
                             rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
        "qwen3_bias": Qwen3Config(**common, head_dim=16, tie_word_embeddings=True, attention_bias=True,
                                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
        "mistral": MistralConfig(**common, sliding_window=None, tie_word_embeddings=False,
                                 rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
    }


def make_models(out):
    from transformers import AutoModelForCausalLM
    for i, (name, config) in enumerate(tiny_configs().items()):
        torch.manual_seed(1000 + i)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        # Norm weights and biases start at 1 and 0: move them so a model that
        # skipped one (or applied it in the wrong place) cannot pass.
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("norm.weight"):
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
                elif pname.endswith(".bias"):
                    p.copy_(0.1 * torch.randn_like(p))
        model.save_pretrained(os.path.join(out, name), safe_serialization=True)
        print(name, sum(p.numel() for p in model.parameters()), "parameters")


def load_model(model_dir, gguf_file=None):
    from transformers import AutoModelForCausalLM
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager", **kwargs)
    return model.eval()


# ---------------------------------------------------------------- inputs

def rows_spec(t):
    """Each row as (kind, segment lengths): segment 0 is padding."""
    return [
        ("full", [t]),
        ("left_pad", [4, t - 4]),
        ("right_pad", [t - 5, 5]),
        ("packed", [5, 4, t - 9]),
        ("packed_right_pad", [3, 6, t - 9]),
    ]


def make_inputs(vocab, t, seed):
    """input_ids, position_ids, segment_ids [B, T] int64; segment 0 is padding."""
    g = torch.Generator().manual_seed(seed)
    spec = rows_spec(t)
    ids = torch.randint(3, vocab, (len(spec), t), generator=g)
    pos = torch.zeros_like(ids)
    seg = torch.zeros_like(ids)
    for b, (kind, lengths) in enumerate(spec):
        start = 0
        for i, n in enumerate(lengths):
            padding = (kind == "left_pad" and i == 0) or (kind.endswith("right_pad") and i == len(lengths) - 1)
            if padding:
                ids[b, start:start + n] = PAD
                seg[b, start:start + n] = 0
                # transformers keeps counting through right padding; irrelevant to what is compared.
                pos[b, start:start + n] = torch.arange(n) if i == 0 else torch.arange(start, start + n)
            else:
                seg[b, start:start + n] = i + 1
                pos[b, start:start + n] = torch.arange(n)
            start += n
    return ids, pos, seg


def segments(seg_row):
    """(start, end) of each non-padding segment of one row."""
    out, start = [], 0
    t = seg_row.numel()
    for i in range(1, t + 1):
        if i == t or seg_row[i] != seg_row[start]:
            if seg_row[start] != 0:
                out.append((start, i))
            start = i
    return out


def reference_logits(model, ids, pos, seg):
    """Logits where seg != 0: padded rows batched with a 2D attention mask and
    position ids (as generate() does), packed rows one document at a time."""
    b, t = ids.shape
    logits = torch.zeros(b, t, model.config.vocab_size)
    spec = rows_spec(t)
    with torch.no_grad():
        padded = [i for i, (kind, _) in enumerate(spec) if not kind.startswith("packed")]
        mask = (seg[padded] != 0).long()
        out = model(input_ids=ids[padded], attention_mask=mask, position_ids=pos[padded]).logits
        logits[padded] = out * mask.unsqueeze(-1)
        for r in range(b):
            if r in padded:
                continue
            for s, e in segments(seg[r]):
                logits[r, s:e] = model(input_ids=ids[r:r + 1, s:e], position_ids=pos[r:r + 1, s:e]).logits[0]
    return logits


def cmd_logits(args):
    model = load_model(args.model, args.gguf_file)
    ids, pos, seg = make_inputs(model.config.vocab_size, args.length, args.seed)
    logits = reference_logits(model, ids, pos, seg)
    os.makedirs(args.out, exist_ok=True)
    save_file({"input_ids": ids, "position_ids": pos, "segment_ids": seg, "logits": logits.contiguous(),
               "valid": (seg != 0).to(torch.uint8)}, os.path.join(args.out, "reference.safetensors"))
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"max_abs_logit": logits.abs().max().item(), "rows": [k for k, _ in rows_spec(args.length)]}, f)


# ---------------------------------------------------------------- a training step

def tunefleet_name(peft_name):
    """PEFT's parameter names -> tunefleet's (HF names, adapter without `.default`)."""
    name = peft_name
    if name.startswith("base_model.model."):
        name = name[len("base_model.model."):]
    return name.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.")


def no_decay(name):
    # trainer/model/lora.cc IsNoDecayParameter, as transformers' Trainer.
    return name.endswith(".bias") or name.endswith("norm.weight")


def step_batches(vocab, t, seed):
    """Two optimizer steps: the first with two micro-batches, the second with one.
    Labels are pre-shifted within each document; -100 on padding, on each
    document's last token and on a "prompt" of the first two tokens."""
    steps = []
    for s, micro in enumerate([2, 1]):
        batches = []
        for m in range(micro):
            ids, pos, seg = make_inputs(vocab, t, seed + 10 * s + m)
            labels = torch.full_like(ids, -100)
            for r in range(ids.shape[0]):
                for a, e in segments(seg[r]):
                    labels[r, a + 2:e - 1] = ids[r, a + 3:e]
            batches.append((ids, pos, seg, labels))
        steps.append(batches)
    return steps


def segment_loss_sum(model, ids, pos, seg, labels):
    """Summed cross entropy, each document run on its own (no packing mask
    needed: nothing crosses a document in the reference)."""
    total = torch.zeros(())
    for r in range(ids.shape[0]):
        for s, e in segments(seg[r]):
            logits = model(input_ids=ids[r:r + 1, s:e], position_ids=pos[r:r + 1, s:e]).logits[0]
            total = total + torch.nn.functional.cross_entropy(logits.float(), labels[r, s:e], ignore_index=-100,
                                                              reduction="sum")
    return total


def lr_at(step, peak, warmup, total, min_ratio):
    """trainer/optim/lr_schedule.cc: transformers' cosine-with-min-lr schedule
    (its lr lambda, called here), except that tunefleet's first warmup update
    uses peak/warmup where transformers' Trainer uses 0 (it steps the
    scheduler after the optimizer)."""
    from transformers.optimization import _get_cosine_schedule_with_warmup_lr_lambda
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * _get_cosine_schedule_with_warmup_lr_lambda(step, num_warmup_steps=warmup,
                                                             num_training_steps=total, num_cycles=0.5,
                                                             min_lr_rate=min_ratio)


def cmd_step(args):
    model = load_model(args.model)
    model.train()
    settings = {"mode": args.mode, "peak_lr": 2e-3, "warmup_steps": 0, "total_steps": 3, "min_lr_ratio": 0.1,
                "beta1": 0.9, "beta2": 0.95, "epsilon": 1e-8, "weight_decay": 0.1, "max_grad_norm": args.max_grad_norm,
                "lora_rank": 4, "lora_alpha": 8.0, "lora_targets": LORA_TARGETS}
    os.makedirs(args.out, exist_ok=True)
    if args.mode == "lora":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=settings["lora_rank"], lora_alpha=settings["lora_alpha"],
                                                 lora_dropout=0.0, target_modules=LORA_TARGETS, bias="none",
                                                 task_type="CAUSAL_LM"))
        # B starts at zero in PEFT (and tunefleet): then A's gradient is zero.
        # Both start from the same nonzero adapter, saved for tunefleet to load.
        g = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_" in name:
                    p.copy_(0.2 * torch.randn(p.shape, generator=g))
        model.save_pretrained(os.path.join(args.out, "adapter_init"))
    trainable = [(tunefleet_name(n), p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in trainable if not no_decay(n)], "weight_decay": settings["weight_decay"]},
              {"params": [p for n, p in trainable if no_decay(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=settings["peak_lr"], betas=(settings["beta1"], settings["beta2"]),
                            eps=settings["epsilon"], foreach=False)
    tensors, record = {}, {"settings": settings, "steps": []}
    steps = step_batches(model.config.vocab_size, args.length, args.seed)
    for s, batches in enumerate(steps):
        for m, (ids, pos, seg, labels) in enumerate(batches):
            for key, value in (("input_ids", ids), ("position_ids", pos), ("segment_ids", seg), ("labels", labels)):
                tensors[f"step{s}.micro{m}.{key}"] = value
        global_tokens = sum(int((b[3] != -100).sum()) for b in batches)
        opt.zero_grad(set_to_none=False)
        loss_sum = 0.0
        for ids, pos, seg, labels in batches:
            loss = segment_loss_sum(model, ids, pos, seg, labels)
            (loss / global_tokens).backward()
            loss_sum += loss.item()
        params = [p for _, p in trainable]
        norm = torch.nn.utils.clip_grad_norm_(params, settings["max_grad_norm"], foreach=False).item()
        lr = lr_at(s, settings["peak_lr"], settings["warmup_steps"], settings["total_steps"], settings["min_lr_ratio"])
        for group in opt.param_groups:
            group["lr"] = lr
        for name, p in trainable:
            tensors[f"step{s}.grad.{name}"] = p.grad.detach().clone()
        opt.step()
        for name, p in trainable:
            tensors[f"step{s}.param.{name}"] = p.detach().clone()
        record["steps"].append({"loss": loss_sum / global_tokens, "grad_norm": norm, "lr": lr,
                                "micro_batches": len(batches), "global_loss_tokens": global_tokens})
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(args.out, "reference.safetensors"))
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(record, f, indent=1)


# ---------------------------------------------------------------- exports

def check_export(job):
    """One model's exports, as a user loads them."""
    from transformers import AutoModelForCausalLM
    from peft import PeftModel
    out = {}
    # The full export: from_pretrained and generate(), greedy, no early stop.
    model = AutoModelForCausalLM.from_pretrained(job["full"], dtype=torch.float32).eval()
    prompt = torch.tensor([job["prompt"]])
    generated = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                               max_new_tokens=job["new_tokens"], min_new_tokens=job["new_tokens"],
                               eos_token_id=None, pad_token_id=PAD)
    out["generated"] = generated[0, prompt.shape[1]:].tolist()
    # The adapter: PeftModel.from_pretrained onto the base, on the inputs of a
    # logits reference (kept beside, so the result is a logits reference too).
    base = load_model(job["base"])
    peft_model = PeftModel.from_pretrained(base, job["peft"]).eval()
    inputs = load_file(job["inputs"])
    tensors = {k: inputs[k] for k in ("input_ids", "position_ids", "segment_ids", "valid")}
    tensors["logits"] = reference_logits(peft_model, inputs["input_ids"], inputs["position_ids"],
                                         inputs["segment_ids"]).contiguous()
    os.makedirs(job["out"], exist_ok=True)
    save_file(tensors, os.path.join(job["out"], "reference.safetensors"))
    with open(os.path.join(job["out"], "reference.json"), "w") as f:
        json.dump(out, f)


def cmd_exports(args):
    with open(args.jobs) as f:
        for job in json.load(f):
            check_export(job)


def cmd_generate(args):
    """As `tunefleet-trainer evaluate --chat-template none` does it: the raw
    prompt without special tokens, greedy until an end-of-text token,
    decoded without special tokens, cut at the first --stop."""
    from tokenizers import Tokenizer
    model = load_model(args.model)
    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    stops = [i for i in (tokenizer.token_to_id(t) for t in ("<|endoftext|>", "<|end_of_text|>", "</s>"))
             if i is not None]
    with open(args.prompts) as f:
        prompts = json.load(f)
    replies = []
    for prompt in prompts:
        ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False).ids])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=args.max_new_tokens, eos_token_id=stops or None, pad_token_id=PAD)
        new = [t for t in out[0, ids.shape[1]:].tolist() if t not in stops]
        reply = tokenizer.decode(new, skip_special_tokens=True)
        if args.stop and args.stop in reply:
            reply = reply[:reply.index(args.stop)]
        replies.append(reply)
    with open(args.out, "w") as f:
        json.dump(replies, f)


def cmd_all(args):
    """make-models, then logits and both steps for each: one process, one import."""
    import shutil
    shutil.rmtree(args.out, ignore_errors=True)
    models = os.path.join(args.out, "models")
    make_models(models)
    for name in tiny_configs():
        model = os.path.join(models, name)
        ref = os.path.join(args.out, "reference", name)
        cmd_logits(argparse.Namespace(model=model, out=os.path.join(ref, "logits"), gguf_file=None, length=16, seed=7))
        for mode in ("full", "lora"):
            cmd_step(argparse.Namespace(model=model, out=os.path.join(ref, "step_" + mode), mode=mode, length=16,
                                        seed=11, max_grad_norm=args.max_grad_norm))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-models")
    m.add_argument("out")
    lg = sub.add_parser("logits")
    lg.add_argument("model")
    lg.add_argument("out")
    lg.add_argument("--gguf-file", default=None, help="a GGUF file inside MODEL, read by transformers")
    lg.add_argument("--length", type=int, default=16)
    lg.add_argument("--seed", type=int, default=7)
    st = sub.add_parser("step")
    st.add_argument("model")
    st.add_argument("out")
    st.add_argument("--mode", choices=["full", "lora"], required=True)
    st.add_argument("--length", type=int, default=16)
    st.add_argument("--seed", type=int, default=11)
    st.add_argument("--max-grad-norm", type=float, default=0.5)
    ex = sub.add_parser("exports")
    ex.add_argument("jobs", help="JSON list of {base, full, peft, inputs, out, prompt, new_tokens}")
    gn = sub.add_parser("generate")
    gn.add_argument("model")
    gn.add_argument("prompts", help="JSON list of prompt strings")
    gn.add_argument("out", help="JSON list of replies")
    gn.add_argument("--max-new-tokens", type=int, default=16)
    gn.add_argument("--stop", default=None)
    al = sub.add_parser("all")
    al.add_argument("out")
    al.add_argument("--max-grad-norm", type=float, default=0.5)
    args = p.parse_args()
    if args.cmd == "all":
        cmd_all(args)
    elif args.cmd == "generate":
        cmd_generate(args)
    elif args.cmd == "make-models":
        make_models(args.out)
    elif args.cmd == "logits":
        cmd_logits(args)
    elif args.cmd == "step":
        cmd_step(args)
    else:
        cmd_exports(args)


if __name__ == "__main__":
    sys.exit(main())
