"""toy-vlm: a small Qwen2-VL the project trains to answer one-word questions about clips of the shapes world.

* ``questions``: the four questions and their answers; ``data``: deterministic question-answer examples;
* ``tokenizer`` / ``processor``: the word-level tokenizer and ``ToyVLMProcessor`` (clip + question → inputs);
* ``configs``: toy-vlm's and ``tiny:vlm``'s sizes; ``pipeline``: ``VideoQAPipeline`` (``pipe(frames, question)``);
* ``train`` / ``evaluate`` / ``install``: its training run, its accuracy per question, its installation.
"""

from .pipeline import VideoQAPipeline
from .processor import ToyVLMProcessor
from .questions import QUESTIONS

__all__ = ["QUESTIONS", "ToyVLMProcessor", "VideoQAPipeline"]
