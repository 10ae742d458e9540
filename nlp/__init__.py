"""Turning residents' messages into requests: normalisation, jieba tokenisation with the
configured vocabulary, and the keyword classifier.

Modules: `normalize` (text clean-up, traditional to simplified), `vocabulary` (the models of
config/categories.yaml), `tokenizer` (a private jieba tokenizer), `matcher` (finding terms),
`classifier` (`Classifier`, `Classification`). See docs/classification.md.
"""
