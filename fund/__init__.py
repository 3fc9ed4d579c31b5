"""Business rules of the 山口県デジタル実装推進基金 dashboard. Never imports streamlit."""
