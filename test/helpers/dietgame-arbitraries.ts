import fc from "fast-check";

/** A DietGame event (content/dietgame.json): its type and data. */
export type DietgameType = "meal.logged" | "exercise.logged" | "recipe.tried" | "social.interaction";

export interface DietgameEvent {
  type: DietgameType;
  data: Record<string, unknown>;
}

/**
 * Random valid DietGame events for property tests, in given proportions: meals, exercise (1 to
 * `maxMinutes` minutes), recipes (from `recipes`, some new) and social interactions of `socialKinds`.
 */
export function dietgameEvents(options: {
  weights: { meal: number; exercise: number; recipe: number; social: number };
  maxMinutes: number;
  recipes: string[];
  socialKinds: string[];
}): fc.Arbitrary<DietgameEvent> {
  const { weights } = options;
  return fc.oneof(
    {
      weight: weights.meal,
      arbitrary: fc
        .record(
          {
            mealType: fc.constantFrom("breakfast", "lunch", "dinner", "snack"),
            calories: fc.integer({ min: 0, max: 1500 }),
          },
          { requiredKeys: ["mealType"] },
        )
        .map((data): DietgameEvent => ({ type: "meal.logged", data })),
    },
    {
      weight: weights.exercise,
      arbitrary: fc
        .record({ minutes: fc.integer({ min: 1, max: options.maxMinutes }) })
        .map((data): DietgameEvent => ({ type: "exercise.logged", data })),
    },
    {
      weight: weights.recipe,
      arbitrary: fc
        .record(
          { recipeId: fc.constantFrom(...options.recipes), isNew: fc.boolean() },
          { requiredKeys: ["recipeId"] },
        )
        .map((data): DietgameEvent => ({ type: "recipe.tried", data })),
    },
    {
      weight: weights.social,
      arbitrary: fc
        .record({ kind: fc.constantFrom(...options.socialKinds) })
        .map((data): DietgameEvent => ({ type: "social.interaction", data })),
    },
  );
}
