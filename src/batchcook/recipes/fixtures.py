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


def shakshuka() -> Recipe:
    """A vegetarian breakfast: other meal types, diet tags and ingredients than carbonara,
    so the gallery's search and filters have something to tell apart."""
    return Recipe(
        title="Shakshuka",
        description="Eggs gently poached in a smoky, spiced tomato and pepper sauce.",
        tldr="Simmer peppers and tomatoes with cumin and paprika, then poach eggs in the sauce.",
        country="Tunisia",
        difficulty="Easy",
        prep_time=10,
        cook_time=25,
        serving_size="2 servings",
        meal_type=["Breakfast", "Lunch"],
        diet=["Vegetarian", "Gluten-free"],
        allergies=["Egg"],
        protein_type=["None"],
        ingredients=[
            Ingredient(ingredient="Eggs", quantity="4"),
            Ingredient(ingredient="Chopped tomatoes", quantity="400 g"),
            Ingredient(ingredient="Red pepper", quantity="1"),
            Ingredient(ingredient="Onion", quantity="1"),
            Ingredient(ingredient="Ground cumin", quantity="1 tsp"),
            Ingredient(ingredient="Smoked paprika", quantity="1 tsp"),
        ],
        preparation=["Slice the onion and the pepper thinly."],
        instructions=[
            "Soften the onion and pepper in olive oil for 8 minutes.",
            "Add the spices, then the tomatoes; simmer for 10 minutes.",
            "Make four wells, crack in the eggs, cover and cook until the whites set.",
        ],
        calories=310.0,
        protein=17.0,
        carbs=21.0,
        fat=17.5,
        fiber=6.0,
        other_nutrition=[NutritionItem(item="Sodium", quantity="520 mg")],
    )


def lemon_tart() -> Recipe:
    """A dessert: a third meal type for the gallery's filters."""
    return Recipe(
        title="Lemon Tart",
        description="A crisp butter pastry filled with a sharp, silky lemon curd.",
        tldr="Blind-bake a sweet pastry case, fill with lemon custard and bake until just set.",
        country="France",
        difficulty="Hard",
        prep_time=40,
        cook_time=45,
        serving_size="8 slices",
        meal_type=["Dessert"],
        diet=["Vegetarian"],
        allergies=["Gluten", "Egg", "Dairy"],
        protein_type=["None"],
        ingredients=[
            Ingredient(ingredient="Plain flour", quantity="200 g"),
            Ingredient(ingredient="Cold butter", quantity="100 g"),
            Ingredient(ingredient="Caster sugar", quantity="175 g"),
            Ingredient(ingredient="Eggs", quantity="5"),
            Ingredient(ingredient="Lemons", quantity="4"),
            Ingredient(ingredient="Double cream", quantity="150 ml"),
        ],
        preparation=[
            "Rub the butter into the flour, add 25 g sugar and one egg, chill for 30 minutes.",
            "Zest and juice the lemons.",
        ],
        instructions=[
            "Line a 23 cm tin with the pastry and blind-bake at 190 °C for 20 minutes.",
            "Whisk the remaining eggs, sugar, lemon juice, zest and cream.",
            "Pour into the case and bake at 150 °C for 25 minutes, until barely set.",
        ],
        calories=390.0,
        protein=6.5,
        carbs=48.0,
        fat=19.0,
        fiber=1.0,
        other_nutrition=[NutritionItem(item="Sugar", quantity="31 g")],
    )
