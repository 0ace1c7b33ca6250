"""A word-level recurrent language model, in the style of PyTorch's word_language_model
example: embedding, a multi-layer LSTM (or GRU), a linear decoder; truncated backpropagation
through time with the hidden state carried (detached) across batches, gradient clipping and a
plain SGD update.

Written for PyTorch; runs on ember unchanged with ``ember run examples/lstm_lm.py``.

    python examples/lstm_lm.py --epochs 3                 # train on examples/corpus.txt
    python examples/lstm_lm.py --model GRU --save-init init.pt
    ember run examples/lstm_lm.py --model GRU --init init.pt --dropout 0
"""
import argparse
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class Dictionary:
    def __init__(self):
        self.word2idx, self.idx2word = {}, []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]


def tokenize(lines, dictionary):
    ids = []
    for line in lines:
        for word in line.split() + ["<eos>"]:
            ids.append(dictionary.add_word(word))
    return torch.tensor(ids, dtype=torch.int64)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.rnn_type, self.nhid, self.nlayers, self.ntoken = rnn_type, nhid, nlayers, ntoken
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def repackage_hidden(h):
    """Detaches hidden states from their history (truncated backpropagation)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def main():
    parser = argparse.ArgumentParser(description="word-level LSTM/GRU language model")
    parser.add_argument("--model", default="LSTM", choices=["LSTM", "GRU", "RNN_TANH"])
    parser.add_argument("--emsize", type=int, default=64)
    parser.add_argument("--nhid", type=int, default=64)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many batches")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--bptt", type=int, default=12)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--init", help="load the initial state_dict from this file")
    parser.add_argument("--save-init", help="save the initial state_dict to this file")
    args = parser.parse_args()

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.txt")) as f:
        lines = f.read().splitlines()
    dictionary = Dictionary()
    train_data = batchify(tokenize(lines[:16], dictionary), args.batch_size)
    val_data = batchify(tokenize(lines[16:], dictionary), 2)
    ntokens = len(dictionary.idx2word)

    torch.manual_seed(1111)
    rnn_type = "RNN" if args.model == "RNN_TANH" else args.model
    model = RNNModel(rnn_type, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout)
    if args.init:
        model.load_state_dict(torch.load(args.init))
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    criterion = nn.NLLLoss()

    def evaluate(data_source):
        model.eval()
        total_loss = 0.0
        hidden = model.init_hidden(2)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i, args.bptt)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-args.lr)
            print(f"step {step} loss {loss.item():.6f}")
            step += 1
            if step == args.steps:
                break
        val_loss = evaluate(val_data)
        print(f"epoch {epoch} valid loss {val_loss:.4f} ppl {math.exp(val_loss):.2f}")
        if step == args.steps:
            break


if __name__ == "__main__":
    main()
