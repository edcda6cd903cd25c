"""The PyTorch peer of Tessera's image-token generation, for `npm run bench:peer` (issue 18, part 5).

The same transformer as lib/model/transformer.ts (pre-LN GPT blocks: qkv, causal attention, proj; 4x MLP with
GELU; final LayerNorm; the image head), written here from its config with random weights (speed does not depend on
the values), sampling image tokens with a KV cache exactly as the server does at guidance 1: one prefill over the
caption, then one step per image token (softmax at the temperature, one multinomial draw per row). One thread
(torch.set_num_threads(1)), as ONNX Runtime runs in the server. Prints one JSON line: tokens/s per batch size,
prefill included, best of --reps.

Run with Debian's python3-torch (apt-get install python3-torch): /usr/bin/python3 training/bench/peer_generate.py
--config '{"nLayer":4,...}' --batches 1,8,16 --reps 3
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["nEmbd"]
        self.n_head = c["nHead"]
        self.ln1 = torch.nn.LayerNorm(e)
        self.qkv = torch.nn.Linear(e, 3 * e)
        self.proj = torch.nn.Linear(e, e)
        self.ln2 = torch.nn.LayerNorm(e)
        self.fc = torch.nn.Linear(e, 4 * e)
        self.out = torch.nn.Linear(4 * e, e)

    def forward(self, x, cache, causal):
        b, t, e = x.shape
        hd = e // self.n_head
        q, k, v = self.qkv(self.ln1(x)).split(e, dim=2)
        # [B, t, e] -> [B, H, t, hd]
        q, k, v = (z.view(b, t, self.n_head, hd).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)  # [B, H, t, T]
        if causal:
            mask = torch.ones(t, t, dtype=torch.bool).tril()
            att = att.masked_fill(~mask, float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(b, t, e)  # [B, t, e]
        x = x + self.proj(y)
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return x, (k, v)


class Transformer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        e = c["nEmbd"]
        self.c = c
        self.text_emb = torch.nn.Embedding(c["textVocab"] + c["textLen"], e)
        self.text_pos = torch.nn.Embedding(c["textLen"], e)
        self.image_emb = torch.nn.Embedding(c["imageVocab"], e)
        self.row_pos = torch.nn.Embedding(c["imageGrid"], e)
        self.col_pos = torch.nn.Embedding(c["imageGrid"], e)
        self.blocks = torch.nn.ModuleList([Block(c) for _ in range(c["nLayer"])])
        self.ln_f = torch.nn.LayerNorm(e)
        self.image_head = torch.nn.Linear(e, c["imageVocab"])

    def run(self, x, caches, causal):
        new = []
        for blk, cache in zip(self.blocks, caches):
            x, kv = blk(x, cache, causal)
            new.append(kv)
        return self.image_head(self.ln_f(x[:, -1])), new

    @torch.no_grad()
    def sample(self, text, temperature, generator):
        c = self.c
        b = text.shape[0]
        g = c["imageGrid"]
        x = self.text_emb(text) + self.text_pos(torch.arange(c["textLen"]))
        logits, caches = self.run(x, [None] * c["nLayer"], True)
        out = torch.empty(b, g * g, dtype=torch.long)
        for i in range(g * g):
            probs = F.softmax(logits / temperature, dim=-1)
            tok = torch.multinomial(probs, 1, generator=generator)  # [B, 1]
            out[:, i] = tok[:, 0]
            if i == g * g - 1:
                break
            pos = self.row_pos(torch.tensor([i // g])) + self.col_pos(torch.tensor([i % g]))
            x = self.image_emb(tok) + pos  # [B, 1, e]
            logits, caches = self.run(x, caches, False)
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="the TransformerConfig as JSON")
    p.add_argument("--batches", default="1,8,16")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--temperature", type=float, default=1.0)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    c = json.loads(a.config)
    model = Transformer(c).eval()
    per_image = c["imageGrid"] ** 2
    gen = torch.Generator().manual_seed(1)
    result = {}
    for b in [int(s) for s in a.batches.split(",")]:
        text = torch.randint(0, c["textVocab"], (b, c["textLen"]))
        model.sample(text, a.temperature, gen)  # warm-up
        best = math.inf
        for _ in range(a.reps):
            t = time.perf_counter()
            model.sample(text, a.temperature, gen)
            best = min(best, time.perf_counter() - t)
        result[f"b{b}"] = b * per_image / best
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "tokensPerS": result}))


if __name__ == "__main__":
    main()
