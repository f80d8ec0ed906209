"""Recipes that train the book's models on the scene world, and loaders for the weights
that the package ships, so that later chapters start from well-trained models."""
