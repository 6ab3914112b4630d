"""The extractive reader, in stages with typed data between them:

    question.py    question text -> Question (wh-word, expected entity types, focus, verb, role)
    candidates.py  a sentence's stored spaCy analysis -> Candidates (entities, lists, noun chunks,
                   verb arguments, quotations with speakers, the sentence)
    parse.py       a sentence's stored analysis -> its parse as plain values (lemmas, edges, clause rows),
                   read once; the question's distances and positions in it
    features.py    (Question, Candidate, sentence) -> features; the learned scorer (scorer.json)
    group.py       ranked candidates -> Answers (corroboration, differing values, lists, yes/no)
    reader.py      the Reader that runs them, and the abstention
"""

from qa.read.features import Scorer
from qa.read.question import Question
from qa.read.reader import ABSTAIN_REASONS, Reader, ReaderParams, Reading, Reranker, Scored, ScoredSentence, SpanModel

__all__ = ["ABSTAIN_REASONS", "Question", "Reader", "ReaderParams", "Reading", "Reranker", "Scored", "ScoredSentence",
           "Scorer", "SpanModel"]
