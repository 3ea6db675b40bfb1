"""The lightest Streamlit round trip: a button and a count. `bench_draw`'s baseline."""

import streamlit as st

st.session_state.setdefault("count", 0)
if st.button("Add one"):
    st.session_state.count += 1
st.metric("Count", st.session_state.count)
