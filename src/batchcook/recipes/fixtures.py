"""Example recipes for tests, demos and the Notion store's round trip."""

from __future__ import annotations

from batchcook.recipes.schema import Ingredient, NutritionItem, Recipe


def carbonara() -> Recipe:
    """A complete, realistic recipe touching every field."""
    return Recipe(
        title="Pasta Carbonara",
        description="Silky Roman pasta with egg, pecorino, guanciale and black pepper.",
        tldr="Toss hot spaghetti with crisp guanciale, then an egg and cheese emulsion.",
        country="Italy",
        difficulty="Medium",
        prep_time=10,
        cook_time=15,
        serving_size="4 servings",
        meal_type=["Lunch", "Dinner"],
        diet=["High-protein"],
        allergies=["Egg", "Dairy", "Gluten"],
        protein_type=["Pork"],
        ingredients=[
            Ingredient(ingredient="Spaghetti", quantity="400 g"),
            Ingredient(ingredient="Guanciale", quantity="150 g"),
            Ingredient(ingredient="Egg yolks", quantity="4"),
            Ingredient(ingredient="Pecorino Romano", quantity="60 g"),
            Ingredient(ingredient="Black pepper", quantity="1 tsp"),
        ],
        preparation=[
            "Cut the guanciale into short strips.",
            "Whisk the yolks with the grated pecorino and pepper.",
        ],
        instructions=[
            "Boil the spaghetti in salted water until al dente.",
            "Crisp the guanciale in a dry pan over medium heat.",
            "Toss the drained pasta with the guanciale off the heat.",
            "Stir in the egg mixture with a splash of pasta water until creamy.",
        ],
        calories=620.0,
        protein=27.5,
        carbs=72.0,
        fat=24.0,
        fiber=3.0,
        other_nutrition=[NutritionItem(item="Sodium", quantity="900 mg")],
    )
