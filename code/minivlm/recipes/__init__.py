"""Recipes that train the book's models, loaders for the weights that the package ships
(so that later chapters start from well-trained models), and the spread of every model a
chapter trains on its page over seeds and kernel sets (`minivlm.recipes.spread`).

- clip, llava        the scene world's CLIP and LLaVA, their shipped weights and figures
- digits, charlm     the Evolution chapter's digit classifier and character language model
- neighbours         the attention chapter's two heads, two relations
- spread             the live experiments over seeds and kernel sets, shipped as data
"""
