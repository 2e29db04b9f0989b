"""A small random BERT built from torch.nn modules in Hugging Face's layout (BertModel without
the pooler), written as config.json + model.safetensors by hand, with its hidden states for two
inputs: the reference for medai's encoder (tests/unit/nn/bert_test.cpp). Usage: bert_reference.py DIR"""
import json
import math
import struct
import sys

import torch
from torch import nn

OUT = sys.argv[1]
CFG = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
           max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
           position_embedding_type="absolute", model_type="bert")
H, NH = CFG["hidden_size"], CFG["num_attention_heads"]


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)

    def forward(self, x, mask):
        n, s, _ = x.shape
        split = lambda t: t.view(n, s, NH, H // NH).permute(0, 2, 1, 3)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(H // NH) + mask
        return (scores.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(n, s, H)


class Output(nn.Module):
    def __init__(self, d_in):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(d_in, H), nn.LayerNorm(H, eps=CFG["layer_norm_eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        setattr(self, "self", SelfAttention())
        self.output = Output(H)

    def forward(self, x, mask):
        return self.output(getattr(self, "self")(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(H, CFG["intermediate_size"])

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention, self.intermediate, self.output = Attention(), Intermediate(), Output(CFG["intermediate_size"])

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class Embeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(CFG["vocab_size"], H)
        self.position_embeddings = nn.Embedding(CFG["max_position_embeddings"], H)
        self.token_type_embeddings = nn.Embedding(CFG["type_vocab_size"], H)
        self.LayerNorm = nn.LayerNorm(H, eps=CFG["layer_norm_eps"])

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList([Layer() for _ in range(CFG["num_hidden_layers"])])


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings, self.encoder = Embeddings(), Encoder()

    def forward(self, ids, mask, types):
        x = self.embeddings(ids, types)
        add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.encoder.layer:
            x = layer(x, add)
        return x


torch.manual_seed(0)
model = Bert().eval()
with torch.no_grad():
    for p in model.parameters():
        p.add_(torch.randn_like(p) * 0.2)  # LayerNorm weights away from 1, biases away from 0
ids = torch.tensor([[2, 7, 11, 13, 17, 19, 23, 3], [2, 5, 9, 3, 0, 0, 0, 0]])
mask = torch.tensor([[1] * 8, [1, 1, 1, 1, 0, 0, 0, 0]])
types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0] * 8])
with torch.no_grad():
    hidden = model(ids, mask, types)

state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
for name, t in state.items():
    raw = t.numpy().astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
    blobs.append(raw)
    at += len(raw)
h = json.dumps(header).encode()
with open(f"{OUT}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
with open(f"{OUT}/config.json", "w") as f:
    json.dump(CFG, f)
with open(f"{OUT}/hidden.f32", "wb") as f:
    f.write(hidden.numpy().astype("<f4").tobytes())
