//! Categories: a tree (LLM → chat / reasoning / code, embedding, vision, ...). A node never
//! becomes its own ancestor; deleting a node with children needs an explicit mode.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::ids::CategoryId;
use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::patch::merge_patch;
use crate::kernel::text::{length, optional, optional_bounded, slug};

/// The writable fields of a category, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategorySpec {
    /// A slug: 1–64 of `[a-z0-9_-]`; unique among the live children of one parent.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// Free text up to 32 characters (`model_type`, `use_case`, ...); defaults to `general`.
    pub category_type: String,
    pub parent_id: Option<CategoryId>,
    pub is_active: bool,
}

/// The raw writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub category_type: Option<String>,
    pub parent_id: Option<Uuid>,
    pub is_active: Option<bool>,
}

impl CategorySpec {
    pub fn parse(input: CategoryInput) -> Result<Self, DomainError> {
        let name = slug("name", &input.name)?;
        let display_name = optional(input.display_name).unwrap_or_else(|| name.clone());
        length("display_name", &display_name, 1, 100)?;
        let description = optional_bounded("description", input.description, 2000)?;
        let category_type = optional(input.category_type).unwrap_or_else(|| "general".to_owned());
        length("category_type", &category_type, 1, 32)?;
        Ok(Self {
            name,
            display_name,
            description,
            category_type,
            parent_id: input.parent_id.map(CategoryId),
            is_active: input.is_active.unwrap_or(true),
        })
    }
}

impl CategorySpec {
    /// The fields as a caller would send them.
    pub fn to_input(&self) -> CategoryInput {
        CategoryInput {
            name: self.name.clone(),
            display_name: Some(self.display_name.clone()),
            description: self.description.clone(),
            category_type: Some(self.category_type.clone()),
            parent_id: self.parent_id.map(|parent| parent.0),
            is_active: Some(self.is_active),
        }
    }
}

merge_patch!(
    /// A JSON Merge Patch of a category's writable fields (`parent_id` moves it).
    CategoryPatch of CategorySpec via CategoryInput {
        name: String,
        display_name: Option<String>,
        description: Option<String>,
        category_type: Option<String>,
        parent_id: Option<Uuid>,
        is_active: Option<bool>,
    }
);

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    pub spec: CategorySpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

named_enum!(
    /// What to do with a deleted node's children and models.
    DeleteMode, "mode", "invalid_mode" {
        /// Refuse while the node has live children or models.
        Refuse => "refuse",
        /// Move the children and models to the node's parent, then delete it.
        Reassign => "reassign",
    }
);

/// A category with its children, for the tree view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryNode {
    pub category: Category,
    pub children: Vec<CategoryNode>,
}

/// Whether making `parent` the parent of `node` would make a cycle, given every category's parent.
pub fn would_cycle(
    node: CategoryId,
    parent: Option<CategoryId>,
    parent_of: impl Fn(CategoryId) -> Option<CategoryId>,
) -> bool {
    let mut current = parent;
    let mut steps = 0usize;
    while let Some(ancestor) = current {
        if ancestor == node {
            return true;
        }
        steps += 1;
        // A tree deeper than any real catalog means the stored tree is already broken.
        if steps > 10_000 {
            return true;
        }
        current = parent_of(ancestor);
    }
    false
}

/// Builds the nested tree (children sorted by name) from a flat list; nodes whose parent is not
/// in the list become roots.
pub fn build_tree(categories: Vec<Category>) -> Vec<CategoryNode> {
    let ids: std::collections::HashSet<CategoryId> = categories.iter().map(|category| category.id).collect();
    let mut children: std::collections::HashMap<Option<CategoryId>, Vec<Category>> = std::collections::HashMap::new();
    for category in categories {
        let parent = category.spec.parent_id.filter(|parent| ids.contains(parent));
        children.entry(parent).or_default().push(category);
    }
    fn attach(
        parent: Option<CategoryId>,
        children: &mut std::collections::HashMap<Option<CategoryId>, Vec<Category>>,
    ) -> Vec<CategoryNode> {
        let mut level = children.remove(&parent).unwrap_or_default();
        level.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        level
            .into_iter()
            .map(|category| {
                let id = category.id;
                CategoryNode {
                    category,
                    children: attach(Some(id), children),
                }
            })
            .collect()
    }
    attach(None, &mut children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> CategoryId {
        CategoryId(Uuid::from_u128(n))
    }

    #[test]
    fn cycles_are_detected_through_any_depth() {
        // 1 <- 2 <- 3 (3's parent is 2, 2's parent is 1)
        let parent_of = |node: CategoryId| match node.0.as_u128() {
            2 => Some(id(1)),
            3 => Some(id(2)),
            _ => None,
        };
        assert!(would_cycle(id(1), Some(id(3)), parent_of));
        assert!(would_cycle(id(2), Some(id(2)), parent_of));
        assert!(!would_cycle(id(3), Some(id(1)), parent_of));
        assert!(!would_cycle(id(1), None, parent_of));
    }
}
