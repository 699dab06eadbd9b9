"""The ``Recipe`` model: the same fields as the existing TypeScript app, so an existing
Notion recipe database keeps working.

Field descriptions are sent to the model inside the strict JSON schema, so they are
written as instructions (units, no numbering, brief tags).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Difficulty = Literal["Easy", "Medium", "Hard"]
MealType = Literal["Breakfast", "Lunch", "Dinner", "Snack", "Dessert"]
ProteinType = Literal["None", "Chicken", "Beef", "Pork", "Tofu", "Fish", "Seafood", "Other"]


class Ingredient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingredient: str = Field(description="The ingredient's name, e.g. 'Spaghetti'.")
    quantity: str = Field(description="Amount with unit, e.g. '200 g' or '2 tbsp'.")


class NutritionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(description="Nutrient name, e.g. 'Sodium'.")
    quantity: str = Field(description="Amount per serving with unit, e.g. '480 mg'.")


class Recipe(BaseModel):
    """A complete recipe as the model must return it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="Short dish name, e.g. 'Pasta Carbonara'.")
    description: str = Field(description="One or two appetising sentences about the dish.")
    tldr: str = Field(description="One-sentence summary of how it is made.")
    country: str = Field(description="Country of origin, e.g. 'Italy'.")
    difficulty: Difficulty
    prep_time: int = Field(description="Preparation time in minutes.")
    cook_time: int = Field(description="Cooking time in minutes.")
    serving_size: str = Field(description="How many it serves, e.g. '4 servings'.")
    meal_type: list[MealType] = Field(description="Meals this suits.")
    diet: list[str] = Field(description="Brief diet tags, e.g. 'Vegetarian', 'Gluten-free'.")
    allergies: list[str] = Field(description="Brief allergen tags, e.g. 'Dairy', 'Egg'.")
    protein_type: list[ProteinType] = Field(description="Main protein sources.")
    ingredients: list[Ingredient]
    preparation: list[str] = Field(
        description="Preparation steps (before cooking), one per item, without step numbers."
    )
    instructions: list[str] = Field(
        description="Cooking steps, one per item, without step numbers."
    )
    calories: float = Field(description="Calories per serving (kcal).")
    protein: float = Field(description="Protein per serving in grams.")
    carbs: float = Field(description="Carbohydrates per serving in grams.")
    fat: float = Field(description="Fat per serving in grams.")
    fiber: float = Field(description="Fiber per serving in grams.")
    other_nutrition: list[NutritionItem] = Field(description="Other notable nutrients per serving.")
    change_description: str | None = Field(
        default=None,
        description="Only when modifying a recipe: one sentence on what changed; else null.",
    )
